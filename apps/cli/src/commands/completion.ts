import type { Command } from 'commander';
import { CliError } from '../cli-error.js';
import type { CliIo } from '../context.js';

interface Entry {
  /** Command path without the program name: "", "tools", "tools list". */
  path: string;
  words: string[];
}

/** Every command path and the words that may follow it (subcommands, then long options). */
function entriesOf(command: Command, prefix: string[] = [], inherited: string[] = []): Entry[] {
  const options = [...inherited, ...command.options.map((option) => option.long).filter((long): long is string => long !== undefined)];
  const subcommands = command.commands.map((sub) => sub.name());
  const entries: Entry[] = [{ path: prefix.join(' '), words: [...subcommands, ...options] }];
  const global = prefix.length === 0 ? options : inherited;
  for (const sub of command.commands) entries.push(...entriesOf(sub, [...prefix, sub.name()], global));
  return entries;
}

function bash(entries: Entry[]): string {
  const cases = entries.map((entry) => `    "${entry.path}") words="${entry.words.join(' ')}" ;;`).join('\n');
  return `# dynmcp completion for bash: source <(dynmcp completion bash)
_dynmcp() {
  local cur path="" word words
  cur="\${COMP_WORDS[COMP_CWORD]}"
  for word in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case "$word" in -*) ;; *) if [[ " $(_dynmcp_words "$path") " == *" $word "* ]]; then path="\${path:+$path }$word"; fi ;; esac
  done
  COMPREPLY=( $(compgen -W "$(_dynmcp_words "$path")" -- "$cur") )
}
_dynmcp_words() {
  local words=""
  case "$1" in
${cases}
  esac
  echo "$words"
}
complete -o default -F _dynmcp dynmcp
`;
}

function zsh(entries: Entry[]): string {
  return `#compdef dynmcp
# dynmcp completion for zsh: source <(dynmcp completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bash(entries).split('\n').slice(1).join('\n')}`;
}

function fish(entries: Entry[]): string {
  const lines = ['# dynmcp completion for fish: dynmcp completion fish | source', 'complete -c dynmcp -f'];
  for (const entry of entries) {
    const parts = entry.path === '' ? [] : entry.path.split(' ');
    const condition =
      parts.length === 0 ? '__fish_use_subcommand' : `__fish_seen_subcommand_from ${parts.at(-1)}`;
    for (const word of entry.words) {
      if (word.startsWith('--')) lines.push(`complete -c dynmcp -n '${condition}' -l ${word.slice(2)}`);
      else lines.push(`complete -c dynmcp -n '${condition}' -a ${word}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** `completion bash|zsh|fish`: a script completing the commands and options of this CLI. */
export function registerCompletion(program: Command, io: CliIo, run: (work: () => Promise<void>) => Promise<void>) {
  program
    .command('completion')
    .argument('<shell>', 'bash, zsh or fish')
    .description('print a shell completion script')
    .action((shell: string) =>
      run(async () => {
        const entries = entriesOf(program);
        const scripts: Record<string, (entries: Entry[]) => string> = { bash, zsh, fish };
        const script = scripts[shell];
        if (script === undefined) throw new CliError(`completion: unknown shell "${shell}"; use bash, zsh or fish`);
        io.stdout.write(script(entries));
      }),
    );
}
