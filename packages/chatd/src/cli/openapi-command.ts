import { writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { buildOpenApiDocument, formatOpenApiDocument } from '../http/openapi-document.js';

/**
 * `chatd openapi [--output FILE]`: prints the OpenAPI 3.1 document of this build, the one a server
 * serves at `GET /api/v1/openapi.json`. Needs no database: the routes are registered on an app that
 * never listens (see `buildOpenApiDocument`). `npm run generate:client` writes
 * `packages/client/openapi.json` with it.
 */
export function openapiCommand(): Command {
  return new Command('openapi')
    .description(
      'print the OpenAPI 3.1 document of the HTTP API (what GET /api/v1/openapi.json serves) as JSON with sorted keys, without a database',
    )
    .option('-o, --output <file>', 'write the document to this file instead of stdout')
    .action(async (options: { output?: string }) => {
      const text = formatOpenApiDocument(await buildOpenApiDocument());
      if (options.output !== undefined) return writeFile(options.output, text);
      // A reader that stops early (`chatd openapi | head`) is not an error.
      process.stdout.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EPIPE') throw error;
      });
      process.stdout.write(text);
    });
}
