// One message catalog per language, shared with the tray (i18n/*.ftl,
// Project Fluent): parsed once, with plurals and arguments.
import { FluentBundle, FluentNumber, FluentResource, type FluentVariable } from "@fluent/bundle";
import en from "../../../i18n/en.ftl?raw";
import zh from "../../../i18n/zh-CN.ftl?raw";

export const languages = ["en", "zh-CN"] as const;

function bundle(lang: string, text: string): FluentBundle {
  // Plain text, as the tray shows it: no bidi isolation marks.
  const b = new FluentBundle(lang, { useIsolating: false });
  const errors = b.addResource(new FluentResource(text));
  if (errors.length) throw new Error(`i18n/${lang}.ftl: ${errors.map(String).join("; ")}`);
  return b;
}

const bundles: Record<string, FluentBundle> = { en: bundle("en", en), "zh-CN": bundle("zh-CN", zh) };

/** `zh*` means Simplified Chinese; anything else English. */
export function normalize(lang: string): string {
  return lang.toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

class Locale {
  current = $state("en");
}

export const locale = new Locale();

/** The message `id` in the current language, with its arguments. */
export function t(id: string, args: Record<string, string | number> = {}): string {
  const b = bundles[locale.current] ?? bundles.en;
  const message = b.getMessage(id) ?? bundles.en.getMessage(id);
  if (!message?.value) return id;
  // Numbers as the Rust side writes them: no grouping (1200, not 1,200).
  const fluentArgs: Record<string, FluentVariable> = {};
  for (const [name, value] of Object.entries(args)) {
    fluentArgs[name] = typeof value === "number" ? new FluentNumber(value, { useGrouping: false }) : value;
  }
  return (bundles[locale.current]?.getMessage(id) ? b : bundles.en).formatPattern(message.value, fluentArgs);
}
