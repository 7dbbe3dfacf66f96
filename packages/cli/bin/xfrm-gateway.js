#!/usr/bin/env node
// The xfrm-gateway command as installed (see run-built.js).
import { runBuilt } from './run-built.js';

await runBuilt('xfrm-gateway');
