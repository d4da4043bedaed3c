import test from 'ava';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

// The managed plugin's rootfs carries only the tools listed in
// scripts/build-plugin-rootfs.sh: every tool src/system/ runs must be there
// (a missing one fails only inside the managed plugin: "exited with a signal").

const ROOT = join(import.meta.dirname, '..', '..', '..');
// Asked for and tolerated when absent: a managed plugin cannot load kernel modules anyway.
const OPTIONAL = new Set(['modprobe']);

test('every tool the plugin runs is in the managed rootfs', async (t) => {
  const script = await readFile(join(ROOT, 'scripts', 'build-plugin-rootfs.sh'), 'utf8');
  // The array's lines, comments cut off, up to its closing parenthesis.
  const start = script.indexOf('TOOLS=(');
  const words: string[] = [];
  for (const line of script.slice(start + 'TOOLS=('.length).split('\n')) {
    const code = line.replace(/#.*/, '');
    const end = code.indexOf(')');
    words.push(...(end >= 0 ? code.slice(0, end) : code).split(/\s+/));
    if (end >= 0) break;
  }
  const tools = new Set(words.filter(Boolean));
  // Linked in by the script: mkfs.ext4 -> mke2fs.
  for (const match of script.matchAll(/ln -s \S+ "\$R\/usr\/s?bin\/([\w.-]+)"/g)) tools.add(match[1]!);
  const dir = join(ROOT, 'src', 'system');
  const used = new Set<string>();
  for (const file of await readdir(dir)) {
    const text = await readFile(join(dir, file), 'utf8');
    for (const match of text.matchAll(/(?:runTool|streamTool)\(\s*'([\w.-]+)'/g)) used.add(match[1]!);
    for (const match of text.matchAll(/\['(mkfs\.[a-z0-9]+)'/g)) used.add(match[1]!);
  }
  t.true(used.size > 15, [...used].join(' '));
  t.deepEqual(
    [...used].filter((tool) => !tools.has(tool) && !OPTIONAL.has(tool)).sort(),
    [],
    'add these to TOOLS in scripts/build-plugin-rootfs.sh',
  );
});
