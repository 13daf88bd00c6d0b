#!/usr/bin/env node
// Builds the pinned versitygw S3 gateway (see go.mod; Apache-2.0) into tools/versitygw/bin/versitygw:
// the S3 server with Object Lock that the archive tests and the archive benchmark run against.
// Rebuilt when stale (tools/go-build.mjs says when).
//
// Usage: node tools/versitygw/build.mjs [--force]
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGoBinary } from '../go-build.mjs';

await buildGoBinary({
  name: 'versitygw',
  dir: dirname(fileURLToPath(import.meta.url)),
  pkg: 'github.com/versity/versitygw/cmd/versitygw',
  script: 'versitygw:build',
  what: 'the pinned versitygw binary',
});
