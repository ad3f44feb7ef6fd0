// Light and dark themes: follow the system (prefers-color-scheme) unless the user picked one.
// The choice is kept in localStorage; charts read `effectiveTheme()` to redraw in the new colours.
export type ThemeChoice = "system" | "light" | "dark";

const KEY = "ftune.theme";
const media = matchMedia("(prefers-color-scheme: dark)");
const stored = localStorage.getItem(KEY);

export const theme = $state({
  choice: (stored === "light" || stored === "dark" ? stored : "system") as ThemeChoice,
  systemDark: media.matches,
});

/** The theme in force (reactive: read it in a template or effect to follow changes). */
export const effectiveTheme = (): "light" | "dark" =>
  theme.choice === "system" ? (theme.systemDark ? "dark" : "light") : theme.choice;

/**
 * Puts the theme in force on the document at once, so that anything reacting to the change
 * (a chart rebuilding, reading colours through cssVar) already reads the new colours.
 */
function apply(): void {
  document.documentElement.dataset.theme = effectiveTheme();
}
apply();

media.addEventListener("change", (e) => {
  theme.systemDark = e.matches;
  apply();
});

export function setTheme(choice: ThemeChoice): void {
  theme.choice = choice;
  apply();
  if (choice === "system") localStorage.removeItem(KEY);
  else localStorage.setItem(KEY, choice);
}

/** The current value of a CSS custom property (for canvas drawing, which cannot use var()). */
export const cssVar = (name: string): string =>
  getComputedStyle(document.documentElement).getPropertyValue(name).trim();

/** Series colours, distinct in both themes. */
export const palette = (): string[] => [1, 2, 3, 4, 5, 6, 7, 8].map((i) => cssVar(`--c${i}`));
