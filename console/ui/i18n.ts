import i18next from 'i18next';
import { initReactI18next } from 'react-i18next';
import { en, vi } from './messages.js';

export type Language = 'vi' | 'en';
const STORAGE_KEY = 'safegate-console-language';

/** The language the person chose last on this browser; Vietnamese otherwise. */
export function savedLanguage(): Language {
  return localStorage.getItem(STORAGE_KEY) === 'en' ? 'en' : 'vi';
}

export async function setLanguage(language: Language): Promise<void> {
  localStorage.setItem(STORAGE_KEY, language);
  document.documentElement.lang = language;
  await i18next.changeLanguage(language);
}

export async function initI18n(language: Language): Promise<void> {
  document.documentElement.lang = language;
  await i18next.use(initReactI18next).init({
    resources: { vi: { translation: vi }, en: { translation: en } },
    lng: language,
    fallbackLng: 'vi',
    // React escapes what it renders; i18next must not escape a second time.
    interpolation: { escapeValue: false },
    returnNull: false,
  });
}
