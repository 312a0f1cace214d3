/**
 * PLACEHOLDER until `npm run generate:client` writes the types generated from chatd's OpenAPI document.
 */
// biome-ignore lint/suspicious/noExplicitAny: placeholder
export type paths = Record<string, any>;
// biome-ignore lint/suspicious/noExplicitAny: placeholder
export type components = { schemas: Record<string, any> };
