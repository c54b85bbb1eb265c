import { CONFIG_KEYS } from '@aispm/config';
import {
  DEFAULT_LAUNCHER,
  hookConfigFile,
  HTTP_HOOK_AGENTS,
  INSTALL_AGENTS,
  installHooks,
  uninstallHooks,
  unifiedDiff,
  type HookConfigEdit,
  type HookRunner,
  type InstallAgent,
} from '../src';

/** The text of a successful edit. */
function text(edit: HookConfigEdit): string | undefined {
  if (!edit.ok) throw new Error(edit.reason);
  return edit.text;
}

const install = (agent: InstallAgent, before: string | undefined, runner: HookRunner = DEFAULT_LAUNCHER) =>
  text(installHooks(agent, before, runner));
const uninstall = (agent: InstallAgent, before: string | undefined, runner: HookRunner = DEFAULT_LAUNCHER) =>
  text(uninstallHooks(agent, before, runner));

/** Every command string anywhere in a hooks file, by event. */
function commandsByEvent(file: string): Record<string, string[]> {
  const hooks = (JSON.parse(file) as { hooks: Record<string, unknown[]> }).hooks;
  return Object.fromEntries(
    Object.entries(hooks).map(([event, entries]) => [
      event,
      entries.flatMap((entry) => {
        const e = entry as { command?: string; bash?: string; hooks?: { command: string }[] };
        return e.hooks ? e.hooks.map((h) => h.command) : [e.command ?? e.bash ?? ''];
      }),
    ]),
  );
}

// A Claude Code settings file as people write them: four-space indentation, other settings, a
// hook of its own, key order that is not alphabetical, and no newline at the end.
const CLAUDE_SETTINGS = `{
    "permissions": {
        "allow": ["Bash(npm test:*)"],
        "deny": []
    },
    "hooks": {
        "PreToolUse": [
            {
                "matcher": "Bash",
                "hooks": [{ "type": "command", "command": "./scripts/guard.sh" }]
            }
        ],
        "Stop": [{ "hooks": [{ "type": "command", "command": "say done" }] }]
    },
    "env": { "FOO": "bar" }
}`;

describe('collect install', () => {
  it.each(INSTALL_AGENTS)(
    'creates the %s file, adds nothing the second time, and uninstall removes it',
    (agent) => {
      const created = install(agent, undefined)!;
      expect(install(agent, created)).toBe(created);
      const events = commandsByEvent(created);
      for (const commands of Object.values(events)) expect(commands).toHaveLength(1);
      expect(
        Object.values(events)
          .flat()
          .every((command) => command.startsWith('npx aispm collect ')),
      ).toBe(true);
      expect(uninstall(agent, created)).toBeUndefined();
    },
  );

  it.each(INSTALL_AGENTS)('leaves an existing %s file byte for byte as it was after uninstall', (agent) => {
    for (const before of [
      CLAUDE_SETTINGS,
      `${CLAUDE_SETTINGS}\n`,
      '{"version":1,"hooks":{"Stop":[{"command":"x"}]}}\n',
      '{\n\t"version": 1,\n\t"theme": "dark"\n}\n',
      '{"a":[1,{"b":2}],"hooks":{"x":[]}}',
    ]) {
      const once = install(agent, before)!;
      expect(once).not.toBe(before);
      const twice = install(agent, once)!;
      expect(twice).toBe(once);
      expect(uninstall(agent, twice)).toBe(before);
      expect(uninstall(agent, before)).toBe(before);
    }
  });

  it('appends to the lists already there, in the file’s own layout, keeping its other hooks', () => {
    const once = install('claude-code', CLAUDE_SETTINGS)!;
    expect(commandsByEvent(once)).toEqual({
      PreToolUse: ['./scripts/guard.sh', 'npx aispm collect claude-code'],
      Stop: ['say done'],
      PostToolUse: ['npx aispm collect claude-code'],
      PermissionRequest: ['npx aispm collect claude-code'],
      UserPromptSubmit: ['npx aispm collect claude-code'],
    });
    expect(once).toContain(`            },
            {
                "matcher": "*",
                "hooks": [
                    {
                        "type": "command",
                        "command": "npx aispm collect claude-code"
                    }
                ]
            }
        ],`);
    expect(JSON.parse(once)).toMatchObject({
      permissions: { allow: ['Bash(npm test:*)'] },
      env: { FOO: 'bar' },
    });
  });

  it('writes each agent’s own hook names and commands', () => {
    const events = (agent: InstallAgent) => commandsByEvent(install(agent, undefined)!);
    expect(events('cursor')).toEqual(
      Object.fromEntries(
        [
          'beforeShellExecution',
          'afterShellExecution',
          'beforeMCPExecution',
          'afterMCPExecution',
          'beforeReadFile',
          'afterFileEdit',
          'beforeSubmitPrompt',
          'stop',
        ].map((event) => [event, ['npx aispm collect cursor']]),
      ),
    );
    expect(JSON.parse(install('cursor', undefined)!).version).toBe(1);
    expect(events('copilot')).toEqual(
      Object.fromEntries(
        [
          'sessionStart',
          'sessionEnd',
          'userPromptSubmitted',
          'preToolUse',
          'postToolUse',
          'errorOccurred',
        ].map((event) => [event, [`npx aispm collect copilot --event ${event} || true`]]),
      ),
    );
    expect(Object.keys(events('gemini-cli'))).toEqual(['BeforeTool', 'AfterTool', 'BeforeAgent']);
    expect(events('gemini-cli').BeforeTool).toEqual(['npx aispm collect claude-code --agent gemini_cli']);
    expect(events('codex').PreToolUse).toEqual(['npx aispm collect claude-code --agent codex']);
    expect(JSON.parse(install('codex', undefined)!).hooks.PreToolUse[0].matcher).toBeUndefined();
    expect(JSON.parse(install('claude-code', undefined)!).hooks.PreToolUse[0].matcher).toBe('*');
  });

  it('names each agent’s file for a project and for a user', () => {
    expect(
      INSTALL_AGENTS.map((agent) => [hookConfigFile(agent, 'project'), hookConfigFile(agent, 'user')]),
    ).toEqual([
      ['.claude/settings.json', '.claude/settings.json'],
      ['.cursor/hooks.json', '.cursor/hooks.json'],
      ['.github/hooks/aispm.json', '.copilot/hooks/aispm.json'],
      ['.gemini/settings.json', '.gemini/settings.json'],
      ['.codex/hooks.json', '.codex/hooks.json'],
    ]);
  });

  it('uses the launcher it is given, and uninstall removes only entries of that launcher', () => {
    const launcher = 'node /opt/aispm/libs/cli/bin/aispm.js';
    const mine = install('cursor', undefined, launcher)!;
    expect(commandsByEvent(mine).stop).toEqual([`${launcher} collect cursor`]);
    const both = install('cursor', mine)!;
    expect(commandsByEvent(both).stop).toEqual([`${launcher} collect cursor`, 'npx aispm collect cursor']);
    expect(uninstall('cursor', both)).toBe(mine);
  });

  it('removes only what it added: an entry someone changed stays', () => {
    const created = JSON.parse(install('cursor', undefined)!);
    created.hooks.stop[0].timeout = 5;
    const edited = `${JSON.stringify(created, null, 2)}\n`;
    const after = uninstall('cursor', edited)!;
    expect(JSON.parse(after)).toEqual({
      version: 1,
      hooks: { stop: [{ command: 'npx aispm collect cursor', timeout: 5 }] },
    });
  });

  it('refuses files it cannot read or that hold hooks in another shape, and leaves them alone', () => {
    const notJson = installHooks('claude-code', '{ "hooks": { // a comment\n } }', DEFAULT_LAUNCHER);
    expect(notJson).toEqual({ ok: false, reason: expect.stringContaining('it is not JSON') });
    expect(installHooks('claude-code', '{"hooks": []}', DEFAULT_LAUNCHER)).toEqual({
      ok: false,
      reason: 'hooks is not an object',
    });
    expect(installHooks('cursor', '{"hooks": {"stop": {}}}', DEFAULT_LAUNCHER)).toEqual({
      ok: false,
      reason: 'hooks.stop is not a list',
    });
    expect(installHooks('codex', '[]', DEFAULT_LAUNCHER)).toEqual({
      ok: false,
      reason: 'the file does not hold a JSON object',
    });
    expect(uninstallHooks('codex', '{"hooks": []}', DEFAULT_LAUNCHER)).toEqual({
      ok: true,
      text: '{"hooks": []}',
    });
    expect(uninstallHooks('codex', undefined, DEFAULT_LAUNCHER)).toEqual({ ok: true, text: undefined });
  });

  it('gives back a file that held only an empty object as no file (the one text it cannot restore)', () => {
    expect(install('claude-code', '{}\n')).toBe(install('claude-code', undefined));
    expect(uninstall('claude-code', install('claude-code', '{}\n'))).toBeUndefined();
  });
});

describe('collect install --http', () => {
  const url = 'https://aispm.example.com/enterprise/aispm/hooks/claude-code?repository=acme%2Fapp';
  const http = { httpUrl: url };

  it('writes Claude Code http hooks that post to the gateway with the collector key from the environment', () => {
    const created = install('claude-code', undefined, http)!;
    const hooks = (JSON.parse(created) as { hooks: Record<string, { matcher?: string; hooks: unknown[] }[]> })
      .hooks;
    expect(Object.keys(hooks)).toEqual([
      'PreToolUse',
      'PostToolUse',
      'PermissionRequest',
      'UserPromptSubmit',
    ]);
    expect(hooks.PreToolUse).toEqual([
      {
        matcher: '*',
        hooks: [
          {
            type: 'http',
            url,
            headers: { Authorization: 'Bearer $AISPM_COLLECTOR_KEY' },
            allowedEnvVars: ['AISPM_COLLECTOR_KEY'],
            timeout: 10,
          },
        ],
      },
    ]);
    // The key itself is never written into the file.
    expect(created).not.toMatch(/aispm_ck/);
    expect(HTTP_HOOK_AGENTS).toEqual(['claude-code']);
  });

  it('adds nothing the second time, sits beside command hooks, and uninstall removes only its own', () => {
    for (const before of [undefined, CLAUDE_SETTINGS]) {
      const once = install('claude-code', before, http)!;
      expect(install('claude-code', once, http)).toBe(once);
      expect(uninstall('claude-code', once, http)).toBe(before);
    }
    const both = install('claude-code', install('claude-code', CLAUDE_SETTINGS)!, http)!;
    expect(commandsByEvent(both).PostToolUse).toEqual(['npx aispm collect claude-code', undefined]);
    expect(uninstall('claude-code', both, http)).toBe(install('claude-code', CLAUDE_SETTINGS));
    // Another URL is another entry: uninstall must be given the URL install was.
    expect(uninstall('claude-code', both, { httpUrl: `${url}x` })).toBe(both);
  });

  it('waits longer than the gateway takes to answer when Kafka does not acknowledge, and no longer', () => {
    const [entry] = (
      JSON.parse(install('claude-code', undefined, http)!) as {
        hooks: { PreToolUse: { hooks: { timeout: number }[] }[] };
      }
    ).hooks.PreToolUse;
    const answerMs = Number(CONFIG_KEYS.GATEWAY_PRODUCE_TIMEOUT_MS.fallback);
    expect(entry!.hooks[0]!.timeout * 1000).toBeGreaterThan(answerMs);
    expect(entry!.hooks[0]!.timeout * 1000).toBeLessThanOrEqual(2 * answerMs);
  });

  it('refuses a URL for an agent without http hooks', () => {
    expect(() => installHooks('cursor', undefined, http)).toThrow('cursor has no http hooks');
  });
});

describe('JSON text edits', () => {
  const ours = { command: 'npx aispm collect cursor' };
  const roundTrip = (before: string) => {
    const once = install('cursor', before)!;
    expect(uninstall('cursor', once)).toBe(before);
    return once;
  };

  it('keeps a one-line file on one line, and a tab-indented or CRLF file as it is', () => {
    expect(roundTrip('{"version":1,"theme":"dark"}')).not.toContain('\n');
    const tabs = roundTrip(
      '{\n\t"version": 1,\n\t"hooks": {\n\t\t"stop": [\n\t\t\t{ "command": "x" }\n\t\t]\n\t}\n}\n',
    );
    expect(tabs).toContain(
      '\t\t\t{ "command": "x" },\n\t\t\t{\n\t\t\t\t"command": "npx aispm collect cursor"\n\t\t\t}\n\t\t],\n\t\t"beforeShellExecution": [\n\t\t\t{\n',
    );
    expect(tabs).not.toMatch(/^ /m);
    const crlf = roundTrip('{\r\n  "version": 1,\r\n  "theme": "dark"\r\n}\r\n');
    expect(crlf.replaceAll('\r\n', '')).not.toContain('\n');
    expect(roundTrip('{\n  "hooks": {\n    "stop": [{ "command": "x" }]\n  }\n}\n')).toContain(
      '    "stop": [{ "command": "x" },{"command":"npx aispm collect cursor"}],\n',
    );
  });

  it('fills an empty list on lines of its own, and removes items with one separator each', () => {
    expect(install('cursor', '{\n  "hooks": {\n    "stop": []\n  }\n}')).toContain(
      '    "stop": [\n      {\n        "command": "npx aispm collect cursor"\n      }\n    ],\n',
    );
    const mine = { command: 'mine' };
    const created = JSON.parse(install('cursor', undefined)!);
    created.hooks.stop.push(mine);
    created.hooks.afterFileEdit.unshift(mine);
    created.hooks.beforeReadFile.push(mine, ours);
    expect(uninstall('cursor', `${JSON.stringify(created, null, 2)}\n`)).toBe(
      `${JSON.stringify({ version: 1, hooks: { beforeReadFile: [mine], afterFileEdit: [mine], stop: [mine] } }, null, 2)}\n`,
    );
    const list = (items: unknown[]) => JSON.stringify({ version: 1, hooks: { stop: items } });
    expect(uninstall('cursor', list([{ c: 1 }, ours, { c: 2 }, ours]))).toBe(list([{ c: 1 }, { c: 2 }]));
    expect(
      uninstall('cursor', '{"k": 0, "hooks": {"stop": [{"command": "npx aispm collect cursor"}]}}'),
    ).toBe('{"k": 0}');
    expect(
      uninstall('cursor', '{"hooks": {"stop": [{"command": "npx aispm collect cursor"}]}, "k": 0}'),
    ).toBe('{"k": 0}');
    expect(
      uninstall(
        'cursor',
        '{\n  "hooks": {\n    "stop": [{"command": "npx aispm collect cursor"}]\n  },\n  "k": 0\n}\n',
      ),
    ).toBe('{\n  "k": 0\n}\n');
    const notAList = '{"hooks": {"stop": {"command": "npx aispm collect cursor"}}}';
    expect(uninstall('cursor', notAList)).toBe(notAList);
    expect(uninstall('cursor', '[1]')).toBe('[1]');
  });

  it('handles escaped quotes and brackets inside strings', () => {
    const before = '{"a\\"]": "}{", "hooks": {"stop": [{"command": "x\\\\"}]}}';
    const after = roundTrip(before);
    expect(JSON.parse(after)).toMatchObject({ 'a"]': '}{', hooks: { stop: [{ command: 'x\\' }, ours] } });
  });
});

describe('unified diff', () => {
  it('shows added and removed lines with three lines of context, and nothing for no change', () => {
    const before = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].join('\n');
    const after = ['a', 'b', 'c', 'd', 'E', 'f', 'g', 'h', 'i', 'j'].join('\n');
    expect(unifiedDiff(before, after, 'x.json', 'x.json')).toBe(
      [
        '--- x.json',
        '+++ x.json',
        '@@ -2,8 +2,9 @@',
        ' b',
        ' c',
        ' d',
        '-e',
        '+E',
        ' f',
        ' g',
        ' h',
        ' i',
        '+j',
        '',
      ].join('\n'),
    );
    expect(unifiedDiff('', '{}\n', '/dev/null', 'new.json')).toBe(
      '--- /dev/null\n+++ new.json\n@@ -0,0 +1,1 @@\n+{}\n',
    );
    expect(unifiedDiff('same\n', 'same\n', 'a', 'b')).toBe('');
  });
});
