/**
 * Owns plugging the collector into an agent's own hook configuration (`aispm collect install`):
 * which file each agent reads for a project and for a user, which hooks run which collector
 * command (or, for Claude Code, post to the gateway as `http` hooks), the edit that adds them to
 * the file's text or takes them out again (over Microsoft's jsonc-parser), and the unified diff
 * of that edit (the diff package). Pure: text in, text out; the command reads and writes the file.
 *
 * Install appends one entry per hook event, leaving the rest of the file byte for byte as it was,
 * and adds nothing that is already there, so running it twice gives one entry. Uninstall removes
 * exactly the entries install writes (the same entry, compared as JSON), an event list or a
 * `hooks` object this leaves empty, and the whole file when nothing else is left in it (install
 * created it). So install then uninstall gives back the file as it was, or no file. What it cannot
 * tell from its own work, and so removes too, is an empty event list or `hooks` object that was
 * there before, and a file that held nothing but `{}` (for Cursor and Copilot `{"version": 1}`).
 */
import { FILE_HEADERS_ONLY, formatPatch, structuredPatch } from 'diff';
import {
  applyEdits,
  findNodeAtLocation,
  format,
  getNodeValue,
  modify,
  parseTree,
  type FormattingOptions,
  type JSONPath,
  type Node,
} from 'jsonc-parser';
import { COPILOT_EVENTS } from './adapters/copilot';

/** The agents `collect install` knows, by the names its `--agent` takes. */
export const INSTALL_AGENTS = ['claude-code', 'cursor', 'copilot', 'gemini-cli', 'codex'] as const;
export type InstallAgent = (typeof INSTALL_AGENTS)[number];
export type InstallScope = 'project' | 'user';

/** How the agent starts aispm when nothing else is said, as in the README. */
export const DEFAULT_LAUNCHER = 'npx aispm';

/**
 * What the hooks run: the collector command, started by a launcher (`npx aispm`), or an `http`
 * hook posting the payload to the gateway at `httpUrl` (Claude Code only, see HTTP_HOOK_AGENTS).
 */
export type HookRunner = string | { readonly httpUrl: string };

/** The agents whose hooks can be `http` hooks. */
export const HTTP_HOOK_AGENTS: readonly InstallAgent[] = ['claude-code'];

/**
 * How long Claude Code waits on the gateway, in seconds. The gateway answers within
 * GATEWAY_PRODUCE_TIMEOUT_MS (5 s by default; the test holds this above it) of Kafka not
 * acknowledging; a `PreToolUse` hook holds the tool until it returns, so waiting much longer
 * would only stall the agent.
 */
const HTTP_HOOK_TIMEOUT_S = 10;

interface AgentHooks {
  /** The file, relative to the project root and to the home directory. */
  readonly files: Readonly<Record<InstallScope, string>>;
  /** What a file created from nothing holds besides `hooks`. */
  readonly skeleton: Readonly<Record<string, unknown>>;
  /** The entry each hook event gets, for a launcher or, when the agent has http hooks, a URL. */
  entries(runner: HookRunner): Readonly<Record<string, unknown>>;
}

/**
 * A Claude Code-shaped matcher group (Claude Code, Gemini CLI, Codex) running the command `run`,
 * or posting to its `httpUrl` with the collector key Claude Code fills in from its environment.
 */
const group = (run: string | { readonly httpUrl: string }, matcher?: string) => ({
  ...(matcher === undefined ? {} : { matcher }),
  hooks: [
    typeof run === 'string'
      ? { type: 'command', command: run }
      : {
          type: 'http',
          url: run.httpUrl,
          headers: { Authorization: 'Bearer $AISPM_COLLECTOR_KEY' },
          allowedEnvVars: ['AISPM_COLLECTOR_KEY'],
          timeout: HTTP_HOOK_TIMEOUT_S,
        },
  ],
});

/** The launcher of a runner that must be one: only HTTP_HOOK_AGENTS take a URL. */
function launcherOf(agent: InstallAgent, runner: HookRunner): string {
  if (typeof runner !== 'string') throw new Error(`${agent} has no http hooks`);
  return runner;
}

const AGENTS: Readonly<Record<InstallAgent, AgentHooks>> = {
  // Claude Code: `.claude/settings.json`; matcher "*" is every tool.
  'claude-code': {
    files: { project: '.claude/settings.json', user: '.claude/settings.json' },
    skeleton: {},
    entries: (runner) => {
      const run = typeof runner === 'string' ? `${runner} collect claude-code` : runner;
      return {
        PreToolUse: group(run, '*'),
        PostToolUse: group(run, '*'),
        PermissionRequest: group(run, '*'),
        UserPromptSubmit: group(run),
      };
    },
  },
  // Gemini CLI: `.gemini/settings.json`; tool matchers are regular expressions.
  'gemini-cli': {
    files: { project: '.gemini/settings.json', user: '.gemini/settings.json' },
    skeleton: {},
    entries: (runner) => {
      const command = `${launcherOf('gemini-cli', runner)} collect claude-code --agent gemini_cli`;
      return {
        BeforeTool: group(command, '.*'),
        AfterTool: group(command, '.*'),
        BeforeAgent: group(command),
      };
    },
  },
  // Codex: `.codex/hooks.json`, Claude Code's shape. Its matchers are regular expressions, so a
  // group without one (every tool) rather than "*".
  codex: {
    files: { project: '.codex/hooks.json', user: '.codex/hooks.json' },
    skeleton: {},
    entries: (runner) => {
      const command = `${launcherOf('codex', runner)} collect claude-code --agent codex`;
      return {
        PreToolUse: group(command),
        PostToolUse: group(command),
        PermissionRequest: group(command),
        UserPromptSubmit: group(command),
      };
    },
  },
  // Cursor: `.cursor/hooks.json`, version 1; every payload names its hook, so one command.
  cursor: {
    files: { project: '.cursor/hooks.json', user: '.cursor/hooks.json' },
    skeleton: { version: 1 },
    entries: (runner) => {
      const entry = { command: `${launcherOf('cursor', runner)} collect cursor` };
      return Object.fromEntries(
        [
          'beforeShellExecution',
          'afterShellExecution',
          'beforeMCPExecution',
          'afterMCPExecution',
          'beforeReadFile',
          'afterFileEdit',
          'beforeSubmitPrompt',
          'stop',
        ].map((event) => [event, entry]),
      );
    },
  },
  // GitHub Copilot: a file of our own in `.github/hooks/` (the CLI and the cloud agent) or
  // `~/.copilot/hooks/` (the CLI). camelCase payloads do not name their event, so each hook passes
  // it. Copilot denies the tool when a `preToolUse` command fails, so the command's exit status
  // is forced to 0 even if aispm cannot start at all.
  copilot: {
    files: { project: '.github/hooks/aispm.json', user: '.copilot/hooks/aispm.json' },
    skeleton: { version: 1 },
    entries: (runner) =>
      Object.fromEntries(
        COPILOT_EVENTS.map((event) => {
          const command = `${launcherOf('copilot', runner)} collect copilot --event ${event}`;
          return [event, { type: 'command', bash: `${command} || true`, powershell: `${command}; exit 0` }];
        }),
      ),
  },
};

/** The configuration file of an agent for a scope, relative to the project root or the home directory. */
export function hookConfigFile(agent: InstallAgent, scope: InstallScope): string {
  return AGENTS[agent].files[scope];
}

/** The file's text after an edit (undefined: no file), or why the file cannot be edited. */
export type HookConfigEdit =
  { readonly ok: true; readonly text: string | undefined } | { readonly ok: false; readonly reason: string };

/** Structural equality of two JSON values, key order aside. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  return (
    keysA.length === keysB.length &&
    keysA.every((key) => sameJson((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]))
  );
}

/** The file's structure is not what install expects (a list where an object should be, …). */
class ShapeError extends Error {}

/** Runs an edit of the file's text, turning text that is not JSON and unexpected shapes into reasons. */
function edit(before: string, work: (text: string) => string | undefined): HookConfigEdit {
  try {
    // jsonc-parser reads comments and trailing commas too; a file with them is refused, not rewritten.
    JSON.parse(before);
    return { ok: true, text: work(before) };
  } catch (error) {
    if (error instanceof SyntaxError) return { ok: false, reason: `it is not JSON (${error.message})` };
    if (error instanceof ShapeError) return { ok: false, reason: error.message };
    throw error;
  }
}

/**
 * How the file indents, for jsonc-parser's formatter: like its first indented line. Undefined for a
 * one-line file, which stays on one line, unless it is an empty object or list: no style to keep.
 */
function indentation(text: string): FormattingOptions | undefined {
  if (!text.trimEnd().includes('\n'))
    return /^\s*(\{\s*\}|\[\s*\])\s*$/.test(text) ? { insertSpaces: true, tabSize: 2 } : undefined;
  const unit = /\n([ \t]+)\S/.exec(text)?.[1] ?? '  ';
  return { insertSpaces: !unit.startsWith('\t'), tabSize: unit.length };
}

const endOf = (node: Node): number => node.offset + node.length;

/**
 * Appends `value` to the list at `path`, creating the members the path names when they are missing
 * (jsonc-parser's `modify`). `container` is the deepest node of the path already there. The new text
 * is laid out like the file by jsonc-parser's formatter over the inserted text alone: `modify`'s own
 * `formattingOptions` reformat the whole lines the insert touches, such as a one-line sibling before
 * it, and then uninstall could not give those bytes back. An item in a one-line container of a
 * multi-line file stays on that line; an empty container is laid out whole, its item on lines of
 * its own.
 */
function append(text: string, path: JSONPath, value: unknown, container: Node): string {
  const [insert] = modify(text, [...path, -1], value, {});
  const after = applyEdits(text, [insert!]);
  const options = indentation(text);
  const empty = !container.children?.length;
  if (!options || (!empty && !text.slice(container.offset, endOf(container)).includes('\n'))) return after;
  const range = empty
    ? { offset: container.offset, length: container.length + insert!.content.length }
    : { offset: insert!.offset, length: insert!.content.length };
  return applyEdits(after, format(after, range, options));
}

/**
 * Takes child `index` (an item or a member) out of `container` with one separator, so that removing
 * what `append` added gives back the text before it, byte for byte; an only child goes with
 * everything inside the container. Not jsonc-parser 3.3.1's `modify(…, undefined)`: after a last
 * array item it leaves one character too many (`[1,2]` gives `[12]`), and for a first member of
 * several it also takes the line break and indentation in front of it.
 */
function removeChild(text: string, container: Node, index: number): string {
  const children = container.children!;
  const [start, end] =
    children.length === 1
      ? [container.offset + 1, endOf(container) - 1]
      : index > 0
        ? [endOf(children[index - 1]!), endOf(children[index]!)]
        : [children[0]!.offset, children[1]!.offset];
  return applyEdits(text, [{ offset: start, length: end - start, content: '' }]);
}

/** The text with `entry` last in the list of `event`, unless it is there already. */
function addEntry(text: string, event: string, entry: unknown): string {
  const root = parseTree(text)!;
  if (root.type !== 'object') throw new ShapeError('the file does not hold a JSON object');
  const hooks = findNodeAtLocation(root, ['hooks']);
  if (hooks && hooks.type !== 'object') throw new ShapeError('hooks is not an object');
  const list = hooks && findNodeAtLocation(hooks, [event]);
  if (list && list.type !== 'array') throw new ShapeError(`hooks.${event} is not a list`);
  if (list?.children!.some((item) => sameJson(getNodeValue(item), entry))) return text;
  return append(text, ['hooks', event], entry, list ?? hooks ?? root);
}

/**
 * The text without the items equal to `entry` in the list of `event`. A list left empty goes with
 * its key, and so does the `hooks` object when that was all it held.
 */
function removeEntry(text: string, event: string, entry: unknown): string {
  const root = parseTree(text)!;
  const hooks = root.type === 'object' ? findNodeAtLocation(root, ['hooks']) : undefined;
  const list = hooks?.type === 'object' ? findNodeAtLocation(hooks, [event]) : undefined;
  if (!hooks || list?.type !== 'array') return text;
  const picked = list.children!.map((item) => sameJson(getNodeValue(item), entry));
  const index = picked.lastIndexOf(true);
  if (index === -1) return text;
  if (!picked.every(Boolean)) return removeEntry(removeChild(text, list, index), event, entry);
  const [object, member] = hooks.children!.length === 1 ? [root, hooks.parent!] : [hooks, list.parent!];
  return removeChild(text, object, object.children!.indexOf(member));
}

/** The file's text with the collector's hooks in it; `before` undefined when there is no file. */
export function installHooks(
  agent: InstallAgent,
  before: string | undefined,
  runner: HookRunner,
): HookConfigEdit {
  const { skeleton, entries } = AGENTS[agent];
  const wanted = Object.entries(entries(runner));
  if (before === undefined) {
    const hooks = Object.fromEntries(wanted.map(([event, entry]) => [event, [entry]]));
    return { ok: true, text: `${JSON.stringify({ ...skeleton, hooks }, null, 2)}\n` };
  }
  return edit(before, (text) =>
    wanted.reduce((current, [event, entry]) => addEntry(current, event, entry), text),
  );
}

/** The file's text without the collector's hooks; undefined when nothing else was left in it. */
export function uninstallHooks(
  agent: InstallAgent,
  before: string | undefined,
  runner: HookRunner,
): HookConfigEdit {
  if (before === undefined) return { ok: true, text: undefined };
  const { skeleton, entries } = AGENTS[agent];
  return edit(before, (text) => {
    const after = Object.entries(entries(runner)).reduce(
      (current, [event, entry]) => removeEntry(current, event, entry),
      text,
    );
    // Only what install would have created the file with is left: install created it.
    return after !== text && sameJson(JSON.parse(after), skeleton) ? undefined : after;
  });
}

/**
 * What an edit of the file changes, as a unified diff (`---`/`+++` headers, `@@` hunks with three
 * lines of context; '' when the texts are the same), so `collect install` can show what it writes
 * before and after writing it. A missing newline at the end of a text is not shown.
 */
export function unifiedDiff(before: string, after: string, fromName: string, toName: string): string {
  const lines = (text: string) => (text === '' || text.endsWith('\n') ? text : `${text}\n`);
  const patch = structuredPatch(fromName, toName, lines(before), lines(after), undefined, undefined, {
    context: 3,
  });
  return patch.hunks.length === 0 ? '' : formatPatch(patch, FILE_HEADERS_ONLY);
}
