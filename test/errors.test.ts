import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorClasses, MlscaleError } from '../src/errors.js';
import { packageRoot } from '../src/util/package-root.js';

describe('error registry', () => {
  const instances = errorClasses.map(
    (Cls) => new (Cls as new (m: string, b?: number) => MlscaleError)('x', 0),
  );
  const doc = readFileSync(join(packageRoot(), 'docs', 'errors.md'), 'utf8');

  test('should give every error class a unique code', () => {
    const codes = instances.map((e) => e.code);
    assert.equal(new Set(codes).size, codes.length);
  });

  test('should name each class after its code', () => {
    for (const e of instances) {
      const expected =
        'E_' +
        e.constructor.name
          .replace(/Error$/, '')
          .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
          .toUpperCase();
      assert.equal(e.code, expected);
      assert.equal(e.name, e.constructor.name);
      assert.ok(e instanceof MlscaleError);
    }
  });

  test('should list every code in docs/errors.md', () => {
    for (const e of instances)
      assert.ok(doc.includes('`' + e.code + '`'), `${e.code} is missing from docs/errors.md`);
  });
});
