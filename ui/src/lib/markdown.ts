// Agreement documents: Markdown from the service, rendered and sanitized.
// markdown-it with markdown-it-cjk-friendly: in Chinese text a bold span
// often ends right after full-width punctuation (`…。**`), which plain
// CommonMark does not close; the plugin's rules do, so no `**` is left.
import DOMPurify from "dompurify";
import MarkdownIt from "markdown-it";
import cjkFriendly from "markdown-it-cjk-friendly";

const md = new MarkdownIt({ html: false, linkify: true, typographer: false });
md.use(cjkFriendly);

// A bare URL ends at the first character a URL cannot hold. The usual rule
// runs on through full-width Chinese text ("https://i.mi.com等(…)所订立的协议。"
// became one link), so bare URLs are limited to ASCII URL characters, minus
// trailing punctuation; "www." and e-mail guesses are off for the same reason.
const AFTER_SCHEME = /^\/\/[A-Za-z0-9\-._~:/?#[\]@!$&'*+,;=%]+/;
const validate = (text: string, pos: number): number => {
  const m = AFTER_SCHEME.exec(text.slice(pos));
  return m ? m[0].replace(/[.,;:!?)\]'*]+$/, "").length : 0;
};
md.linkify.set({ fuzzyLink: false, fuzzyEmail: false, fuzzyIP: false });
md.linkify.add("http:", { validate }).add("https:", { validate });

export function renderMarkdown(markdown: string): string {
  return DOMPurify.sanitize(md.render(markdown), {
    ALLOWED_TAGS: ["h1", "h2", "h3", "h4", "h5", "h6", "p", "strong", "em", "b", "i", "ul", "ol", "li", "a", "br", "hr", "blockquote", "code", "pre", "table", "thead", "tbody", "tr", "th", "td", "span", "del", "s"],
    ALLOWED_ATTR: ["href", "title"],
  });
}
