// Agreement documents: Markdown from the service, rendered and sanitized.
import DOMPurify from "dompurify";
import { marked, type Tokens } from "marked";

// A bare URL ends at the first character a URL cannot hold. GFM's own rule
// runs on through full-width Chinese text ("https://i.mi.com等(…)所订立的协议。"
// became one link), so bare URLs are limited to ASCII URL characters, minus
// trailing punctuation.
const BARE_URL = /^https?:\/\/[A-Za-z0-9\-._~:/?#[\]@!$&'*+,;=%]+/;

marked.use({
  gfm: true,
  tokenizer: {
    url(src: string): Tokens.Link | false {
      const m = BARE_URL.exec(src);
      if (!m) return false;
      const href = m[0].replace(/[.,;:!?)\]'*]+$/, "");
      return { type: "link", raw: href, href, title: null, text: href, tokens: [{ type: "text", raw: href, text: href }] };
    },
  },
});

export function renderMarkdown(markdown: string): string {
  const html = marked.parse(markdown, { async: false }) as string;
  return DOMPurify.sanitize(html, {
    ALLOWED_TAGS: ["h1", "h2", "h3", "h4", "h5", "h6", "p", "strong", "em", "b", "i", "ul", "ol", "li", "a", "br", "hr", "blockquote", "code", "pre", "table", "thead", "tbody", "tr", "th", "td", "span"],
    ALLOWED_ATTR: ["href", "title"],
  });
}
