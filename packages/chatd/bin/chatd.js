#!/usr/bin/env node
// The `chatd` command. A committed file (not dist/) so that npm can link it before `prepare` builds dist/.
await import('../dist/cli/main.js');
