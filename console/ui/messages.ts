/** The console's message catalogue, Vietnamese first (the same i18next approach as the screens). */
export const vi = {
  app: { title: 'SafeGate — Bảng điều khiển tỉnh', language: 'English', languageLabel: 'Switch to English' },
  login: {
    heading: 'Đăng nhập',
    name: 'Tên tài khoản',
    password: 'Mật khẩu',
    submit: 'Đăng nhập',
    busy: 'Đang đăng nhập…',
    wrong: 'Sai tên tài khoản hoặc mật khẩu.',
    locked: 'Đã nhập sai mật khẩu nhiều lần. Tài khoản tạm khoá, thử lại sau {{seconds}} giây.',
    failed: 'Không đăng nhập được. Vui lòng thử lại.',
  },
  me: {
    heading: 'Tài khoản của bạn',
    name: 'Tài khoản',
    role: 'Vai trò',
    org: 'Tổ chức',
    signOut: 'Đăng xuất',
  },
  role: {
    operator: 'Cán bộ điều hành cấp tỉnh (toàn quyền)',
    manager: 'Quản lý tổ chức (chỉ tổ chức của mình)',
    health: 'Cán bộ y tế (chỉ xem, mọi tổ chức)',
  },
  loading: 'Đang tải…',
};

export type Messages = typeof vi;

export const en: Messages = {
  app: { title: 'SafeGate — Province console', language: 'Tiếng Việt', languageLabel: 'Chuyển sang tiếng Việt' },
  login: {
    heading: 'Sign in',
    name: 'Account name',
    password: 'Password',
    submit: 'Sign in',
    busy: 'Signing in…',
    wrong: 'Wrong account name or password.',
    locked: 'Too many wrong passwords. This account is locked; try again in {{seconds}} seconds.',
    failed: 'Could not sign in. Please try again.',
  },
  me: {
    heading: 'Your account',
    name: 'Account',
    role: 'Role',
    org: 'Organisation',
    signOut: 'Sign out',
  },
  role: {
    operator: 'Province operator (everything)',
    manager: 'Organisation manager (their organisation only)',
    health: 'Health officer (read-only, every organisation)',
  },
  loading: 'Loading…',
};
