#!/usr/bin/env node
// The mlscale command: runs the compiled CLI (built by `npm install` via the prepare script).
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
