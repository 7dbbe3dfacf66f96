#!/usr/bin/env node
// The dataplane-bench command as installed (see run-built.js).
import { runBuilt } from './run-built.js';

await runBuilt('dataplane-bench');
