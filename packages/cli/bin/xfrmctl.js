#!/usr/bin/env node
// The xfrmctl command as installed (see run-built.js).
import { runBuilt } from './run-built.js';

await runBuilt('xfrmctl');
