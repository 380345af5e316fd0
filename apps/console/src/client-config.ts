// Ready-to-paste client configurations for an instance's MCP URL. The key is never filled in: each
// snippet carries a placeholder the operator replaces with the key meant for that client.

const KEY_PLACEHOLDER = '<your-key>';

export interface ClientSnippet {
  id: string;
  title: string;
  where: string;
  text: string;
}

/** The MCP URL of an instance on this gateway. */
export function mcpUrl(origin: string, instanceId: string): string {
  return `${origin}/mcp/${encodeURIComponent(instanceId)}`;
}

export function clientSnippets(origin: string, instanceId: string, isPublic: boolean): ClientSnippet[] {
  const url = mcpUrl(origin, instanceId);
  const server = `dynmcp-${instanceId.replace(/[^A-Za-z0-9_-]/g, '-')}`;
  const auth = `Bearer ${KEY_PLACEHOLDER}`;
  const json = (value: unknown) => JSON.stringify(value, null, 2);
  return [
    {
      id: 'claude',
      title: 'Claude Desktop (through mcp-remote)',
      where: 'claude_desktop_config.json',
      text: json({
        mcpServers: {
          [server]: {
            command: 'npx',
            args: ['-y', 'mcp-remote', url, ...(isPublic ? [] : ['--header', 'Authorization:${AUTH_HEADER}'])],
            ...(isPublic ? {} : { env: { AUTH_HEADER: auth } }),
          },
        },
      }),
    },
    {
      id: 'cursor',
      title: 'Cursor',
      where: '.cursor/mcp.json',
      text: json({ mcpServers: { [server]: { url, ...(isPublic ? {} : { headers: { Authorization: auth } }) } } }),
    },
    {
      id: 'vscode',
      title: 'VS Code',
      where: '.vscode/mcp.json',
      text: json({ servers: { [server]: { type: 'http', url, ...(isPublic ? {} : { headers: { Authorization: auth } }) } } }),
    },
    {
      id: 'inspector',
      title: 'MCP Inspector',
      where: 'command line',
      text: `npx @modelcontextprotocol/inspector --cli ${url} --transport http${isPublic ? '' : ` --header "Authorization: ${auth}"`} --method tools/list`,
    },
  ];
}
