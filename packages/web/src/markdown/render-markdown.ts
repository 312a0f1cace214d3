/**
 * Markdown to safe HTML: marked (GitHub-flavoured) with highlighted code blocks, raw HTML in the source
 * shown as text, and the result sanitised by DOMPurify (model output is untrusted input).
 */
import DOMPurify from 'dompurify';
import { Marked } from 'marked';
import { highlightCode } from './highlighter';

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]!);
}

const marked = new Marked({
  gfm: true,
  async: false,
  renderer: {
    // Raw HTML in an answer is text to read, never markup to run or to style the page with.
    html({ text }) {
      return escapeHtml(text);
    },
    code({ text, lang }) {
      const language = lang?.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
      const highlighted = language ? highlightCode(text, language) : undefined;
      const languageClass = highlighted ? ` language-${escapeHtml(language)}` : '';
      return `<pre><code class="hljs${languageClass}">${highlighted ?? escapeHtml(text)}</code></pre>\n`;
    },
  },
});

// Links in answers open elsewhere and get no access to this page.
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});

/** Renders Markdown to sanitised HTML. */
export function renderMarkdown(source: string): string {
  return DOMPurify.sanitize(marked.parse(source, { async: false }), { USE_PROFILES: { html: true } });
}
