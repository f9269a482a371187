// The house style, checked in CI: every tracked TypeScript file is exactly what Prettier prints (.prettierrc.json)
// and no line is longer than 120 characters (Prettier cannot break strings, template literals or comments).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import * as prettier from 'prettier';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const MAX_COLUMNS = 120;

/** The TypeScript files git tracks, relative to the repository root (a tracked file deleted locally is skipped). */
function trackedTypeScript(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--', '*.ts'], { cwd: root, encoding: 'utf8' });
  return out.split('\0').filter((f) => f !== '' && existsSync(join(root, f)));
}

describe('formatting', () => {
  const files = trackedTypeScript();

  it('every TypeScript file is formatted by Prettier', async () => {
    assert.ok(files.length > 0, `git ls-files found no TypeScript files under ${root}`);
    const ignorePath = join(root, '.prettierignore');
    const unformatted: string[] = [];
    for (const file of files) {
      const path = join(root, file);
      if ((await prettier.getFileInfo(path, { ignorePath })).ignored) continue;
      const config = await prettier.resolveConfig(path, { editorconfig: true });
      const source = readFileSync(path, 'utf8');
      if (!(await prettier.check(source, { ...config, filepath: path }))) unformatted.push(file);
    }
    assert.deepEqual(unformatted, [], `not formatted by Prettier (run npm run format): ${unformatted.join(', ')}`);
  });

  it(`no line of a TypeScript file is longer than ${MAX_COLUMNS} characters`, () => {
    assert.ok(files.length > 0, `git ls-files found no TypeScript files under ${root}`);
    const tooLong: string[] = [];
    for (const file of files) {
      readFileSync(join(root, file), 'utf8')
        .split(/\r?\n/)
        .forEach((line, i) => {
          const columns = [...line].length;
          if (columns > MAX_COLUMNS) tooLong.push(`${file}:${i + 1} (${columns})`);
        });
    }
    assert.deepEqual(
      tooLong,
      [],
      `lines longer than ${MAX_COLUMNS} characters; split the string with +, rewrap the comment:\n` +
        tooLong.join('\n'),
    );
  });
});
