// One message catalog per language, shared with the tray (i18n/*.json).
import en from "../../../i18n/en.json";
import zh from "../../../i18n/zh-CN.json";

const catalogs: Record<string, Record<string, string>> = { en, "zh-CN": zh };

export const languages = ["en", "zh-CN"] as const;

/** `zh*` means Simplified Chinese; anything else English. */
export function normalize(lang: string): string {
  return lang.toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

class Locale {
  current = $state("en");
}

export const locale = new Locale();

export function t(key: string, args: Record<string, string | number> = {}): string {
  const text = catalogs[locale.current]?.[key] ?? catalogs.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name: string) => String(args[name] ?? `{${name}}`));
}
