/**
 * The Dockerfile, checked statically (CI cannot build it: the base image comes from a container
 * registry this machine does not reach; see docs/deploy.md): parsed with dockerfile-ast, it must be
 * multi-stage, run as a non-root user, take the model repository as a volume, expose the port the
 * manifests use, check health on the protocol's liveness endpoint, and carry no GPU packages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerfileParser } from 'dockerfile-ast';
import { kDefaultKubernetesOptions } from '../../src/deploy/configs.js';
import { kImage, kImageUser } from '../../src/deploy/kubernetes-parts.js';
import { packageRoot } from '../../src/util/package-root.js';

const root = packageRoot();
const text = readFileSync(join(root, 'Dockerfile'), 'utf8');
const dockerfile = DockerfileParser.parse(text);
const instructions = dockerfile.getInstructions();
const args = (keyword: string): string[][] =>
  instructions
    .filter((i) => i.getKeyword() === keyword)
    .map((i) => i.getArguments().map((a) => a.getValue()));

test('multi-stage: build, production dependencies, runtime, each from an official Node image', () => {
  const froms = dockerfile.getFROMs();
  assert.deepEqual(
    froms.map((f) => f.getBuildStage()),
    ['build', 'deps', 'runtime'],
  );
  for (const f of froms) assert.match(f.getImageName() ?? '', /(^|\/)node$/);
  // The runtime stage takes compiled code and node_modules from the others, not the sources.
  assert.match(text, /^COPY --from=deps \/app\/node_modules \.\/node_modules$/m);
  assert.match(text, /^COPY --from=build \/app\/dist\/src \.\/dist\/src$/m);
});

test('the runtime runs as the non-root user the manifests expect', () => {
  const users = args('USER');
  assert.ok(users.length > 0, 'a USER instruction');
  const last = users.at(-1)![0]!;
  assert.doesNotMatch(last, /^(root|0)(:|$)/);
  assert.equal(last.split(':')[0], String(kImageUser));
  // The USER comes after the last FROM: it applies to the runtime stage.
  const lastFrom = instructions.lastIndexOf(dockerfile.getFROMs().at(-1)!);
  const userAt = instructions.findLastIndex((i) => i.getKeyword() === 'USER');
  assert.ok(userAt > lastFrom);
});

test('health check on /v2/health/live, the port and repository the manifests use', () => {
  const health = dockerfile.getHEALTHCHECKs();
  assert.equal(health.length, 1);
  assert.match(health[0]!.getTextContent(), /\/v2\/health\/live/);
  assert.deepEqual(args('EXPOSE'), [[String(kDefaultKubernetesOptions.port)]]);
  assert.match(text, /^VOLUME \["\/models"\]$/m);
  const cmd = dockerfile.getCMDs().at(-1)!.getTextContent();
  assert.match(cmd, /"--model-repository", "\/models"/);
  assert.match(cmd, /"--host", "0\.0\.0\.0"/);
  assert.match(cmd, /"--port", "8000"/);
});

test('onnxruntime CPU binaries only: no GPU packages, the install script skipped', () => {
  assert.doesNotMatch(text, /cuda|tensorrt|nvidia|onnxruntime-gpu|onnxruntime-node-gpu/i);
  assert.match(readFileSync(join(root, '.npmrc'), 'utf8'), /^onnxruntime-node-install=skip$/m);
  for (const run of args('RUN').map((a) => a.join(' ')))
    if (/npm ci/.test(run)) assert.match(run, /--ignore-scripts/, run);
});

test('the build command in its header tags the image the manifests reference', () => {
  assert.ok(
    text.includes(`podman build -t ${kImage} .`),
    `"podman build -t ${kImage} ." in the header`,
  );
  const ignore = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n');
  for (const entry of ['node_modules', 'dist', '.git']) assert.ok(ignore.includes(entry), entry);
});
