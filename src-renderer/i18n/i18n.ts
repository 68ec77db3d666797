import i18next from 'i18next';
import { initReactI18next } from 'react-i18next';
import { en, vi } from './messages.js';

export type Language = 'vi' | 'en';

export async function initI18n(language: Language): Promise<typeof i18next> {
  await i18next.use(initReactI18next).init({
    resources: { vi: { translation: vi }, en: { translation: en } },
    lng: language,
    fallbackLng: 'vi',
    // React escapes what it renders; i18next must not escape a second time.
    interpolation: { escapeValue: false },
    returnNull: false,
  });
  return i18next;
}

/** "3 phút", "2 giờ": the largest unit that fits. */
export function formatAge(t: (key: string, o: Record<string, unknown>) => string, seconds: number): string {
  if (seconds < 60) return t('age.s', { n: Math.round(seconds) });
  if (seconds < 3600) return t('age.m', { n: Math.round(seconds / 60) });
  if (seconds < 172_800) return t('age.h', { n: Math.round(seconds / 3600) });
  return t('age.d', { n: Math.round(seconds / 86_400) });
}

/** The locale dates and times are written in: Vietnamese style, or British English (day first, 24 h). */
export function localeOf(language: string): string {
  return language === 'en' ? 'en-GB' : 'vi-VN';
}

/**
 * A moment as people here write it, in the province zone whatever zone this machine is set to:
 * `dd/MM/yyyy HH:mm` (seconds with `seconds`). The same digits in both languages; only the
 * English locale's separators are its own.
 */
export function formatDateTime(ms: number, zone: string, opts: { seconds?: boolean; date?: boolean } = {}): string {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: zone,
    day: '2-digit',
    month: '2-digit',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: opts.seconds ? '2-digit' : undefined,
    hourCycle: 'h23',
  }).formatToParts(ms);
  const p = (type: Intl.DateTimeFormatPartTypes) => parts.find((x) => x.type === type)?.value ?? '';
  const time = `${p('hour')}:${p('minute')}${opts.seconds ? `:${p('second')}` : ''}`;
  return opts.date === false ? time : `${p('day')}/${p('month')}/${p('year')} ${time}`;
}
