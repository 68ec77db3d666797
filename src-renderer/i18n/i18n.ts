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
