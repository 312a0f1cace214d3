/**
 * The system prompt a model receives: the deployment's system prompt, then the user's personal
 * instructions wrapped in `<user-instructions>` when they are not blank. Either part may be empty.
 */
export function assembleSystemPrompt(systemPrompt: string, userPrompt: string | undefined): string {
  const parts: string[] = [];
  if (systemPrompt.trim() !== '') parts.push(systemPrompt);
  if (userPrompt !== undefined && userPrompt.trim() !== '') {
    parts.push(`<user-instructions>\n${userPrompt}\n</user-instructions>`);
  }
  return parts.join('\n\n');
}
