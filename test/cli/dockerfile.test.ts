// Reading Dockerfiles: which FROM and COPY --from values are images, where they are, and which are not.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isDockerfileName, looksLikeDockerfile, parseDockerfile } from '../../src/cli/dockerfile.ts';
import type { ParsedDockerfile } from '../../src/cli/dockerfile.ts';

/** The images as `instruction line stage value`, each checked to sit exactly at its byte range. */
function summary(text: string, parsed: ParsedDockerfile): readonly string[] {
  return parsed.images.map((image) => {
    assert.equal(text.slice(image.start, image.end), image.value, `range of ${image.value}`);
    return `${image.instruction} ${String(image.line)} ${image.stage} ${image.value}`;
  });
}

describe('parseDockerfile', () => {
  test('finds FROM images past flags, keeps stage names (any case) and scratch apart, and reads COPY --from images', () => {
    const text = [
      '# syntax=docker/dockerfile:1',
      'ARG GO=1.22',
      'from --platform=$BUILDPLATFORM golang:1.22 AS Build',
      'RUN go build ./...',
      'FROM build as test',
      'FROM scratch',
      'COPY --from=BUILD /out /bin',
      'COPY --from=0 /a /a',
      'COPY --chown=1:1 --from=nginx:1.27 /etc/nginx /etc/nginx',
      'From alpine:3.20',
      '',
    ].join('\n');
    const parsed = parseDockerfile(text);
    assert.deepEqual(summary(text, parsed), ['FROM 3 Build golang:1.22', 'COPY 9 2 nginx:1.27', 'FROM 10 3 alpine:3.20']);
    assert.equal(parsed.stages, 4);
    assert.deepEqual(parsed.skipped, []);
  });

  test('a build argument in an image is skipped with the reason, not read', () => {
    const text = 'ARG BASE=alpine:3.20\nARG TAG\nFROM $BASE\nFROM node:${TAG} AS web\nCOPY --from=${BASE} /a /a\n';
    const parsed = parseDockerfile(text);
    assert.deepEqual(parsed.images, []);
    assert.deepEqual(
      parsed.skipped.map((skip) => `${skip.instruction} ${String(skip.line)} ${skip.value}`),
      ['FROM 3 $BASE', 'FROM 4 node:${TAG}', 'COPY 5 ${BASE}'],
    );
    assert.match(parsed.skipped[0]?.reason ?? '', /build argument/);
  });

  test('line continuations, comment lines inside them, CRLF and the escape directive', () => {
    const text = ['# escape=`', 'FROM `', '  # the base', '  mcr.microsoft.com/windows/servercore:ltsc2022 `', '  AS base', 'RUN dir C:\\', 'FROM base', ''].join('\r\n');
    const parsed = parseDockerfile(text);
    assert.deepEqual(summary(text, parsed), ['FROM 4 base mcr.microsoft.com/windows/servercore:ltsc2022']);
    assert.equal(parsed.stages, 2);

    const backslash = 'FROM \\\n    alpine:3.20 \\\n    AS a\nRUN echo \\\n# not an instruction\n  FROM nginx:1.27\n';
    assert.deepEqual(summary(backslash, parseDockerfile(backslash)), ['FROM 2 a alpine:3.20']);
  });

  test('heredoc bodies are data, not instructions', () => {
    const text = 'FROM alpine:3.20\nRUN <<EOF\nFROM nginx:1.27\nEOF\nCOPY <<-"END" /x\n\tFROM redis:7\n\tEND\nFROM busybox:1.36\n';
    assert.deepEqual(summary(text, parseDockerfile(text)), ['FROM 1 0 alpine:3.20', 'FROM 8 1 busybox:1.36']);
  });

  test('a FROM naming a later stage is an image; COPY --from may name any stage', () => {
    const text = 'FROM app AS base\nCOPY --from=app /a /a\nFROM alpine:3.20 AS app\n';
    assert.deepEqual(summary(text, parseDockerfile(text)), ['FROM 1 base app', 'FROM 3 app alpine:3.20']);
  });

  test('which file names are Dockerfiles, and which texts look like one', () => {
    for (const name of ['Dockerfile', 'dir/Containerfile', 'dockerfile', 'Dockerfile.dev', 'api.Dockerfile', 'x.containerfile']) {
      assert.ok(isDockerfileName(name), name);
    }
    for (const name of ['Dockerfile.dockerignore', 'Containerfile.containerignore', 'Dockerfile.yaml', 'docker-compose.yml', 'MyDockerfile', 'notes.txt']) {
      assert.ok(!isDockerfileName(name), name);
    }
    assert.ok(looksLikeDockerfile('# comment\n\nARG X=1\nFROM a\n'));
    assert.ok(looksLikeDockerfile('from alpine\n'));
    assert.ok(!looksLikeDockerfile('kind: Pod\n'));
    assert.ok(!looksLikeDockerfile('FROM:\n  x: 1\n'));
    assert.ok(!looksLikeDockerfile(''));
  });
});
