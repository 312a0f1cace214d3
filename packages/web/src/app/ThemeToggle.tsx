import { useTheme } from './theme';

/** Switches between the light and the dark theme. */
export function ThemeToggle() {
  const { theme, toggle } = useTheme();
  return (
    <button type="button" className="button-ghost" aria-pressed={theme === 'dark'} onClick={toggle}>
      <span aria-hidden="true">☾</span>
      <span className="theme-label">Dark theme</span>
    </button>
  );
}
