/**
 * The curl examples of the README of the Rust project dynmcp, which this gateway ports, copied
 * verbatim. Every one must work against this gateway unchanged, so that scripts written for the
 * Rust gateway keep working; `rust-readme-examples.test.ts` runs them with real curl.
 */
export const RUST_README_CURL_EXAMPLES = {
  mcpToolsList: "curl -X POST http://localhost:8080/mcp/instance123 \\\n  -H \"Content-Type: application/json\" \\\n  -H \"Authorization: Bearer your-api-key\" \\\n  -d '{\n    \"jsonrpc\": \"2.0\",\n    \"id\": 1,\n    \"method\": \"tools/list\",\n    \"params\": {}\n  }'",
  listTools: "curl http://localhost:8080/admin/tds \\\n  -H \"Authorization: Bearer your-api-key\"",
  getTool: "curl http://localhost:8080/admin/tds/tool123 \\\n  -H \"Authorization: Bearer your-api-key\"",
  putTool: "curl -X PUT http://localhost:8080/admin/tds/tool123 \\\n  -H \"Authorization: Bearer your-api-key\" \\\n  -H \"Content-Type: application/json\" \\\n  -d '{\n    \"id\": \"tool123\",\n    \"name\": \"example_tool\",\n    \"description\": \"An example tool\",\n    \"input_schema\": {},\n    \"tds_ext_info\": {\n      \"domain\": \"api.example.com\",\n      \"method\": \"GET\",\n      \"path\": \"/v1/example\",\n      \"required_params\": {},\n      \"ext_info\": {}\n    }\n  }'",
  deleteTool: "curl -X DELETE http://localhost:8080/admin/tds/tool123 \\\n  -H \"Authorization: Bearer your-api-key\"",
  listInstances: "curl http://localhost:8080/admin/ids \\\n  -H \"Authorization: Bearer your-api-key\"",
  getInstance: "curl http://localhost:8080/admin/ids/instance123 \\\n  -H \"Authorization: Bearer your-api-key\"",
  putInstance: "curl -X PUT http://localhost:8080/admin/ids/instance123 \\\n  -H \"Authorization: Bearer your-api-key\" \\\n  -H \"Content-Type: application/json\" \\\n  -d '{\n    \"id\": \"instance123\",\n    \"name\": \"example_instance\",\n    \"tool_ids\": [\"tool1\", \"tool2\", \"tool3\"]\n  }'",
  deleteInstance: "curl -X DELETE http://localhost:8080/admin/ids/instance123 \\\n  -H \"Authorization: Bearer your-api-key\"",
} as const;
