// An accessibility scan of the page as it is now, with axe-core (from npm):
// fails on every violation of impact "serious" or "critical" that is not a
// known one, and says what it found (rule, impact, help, the elements).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { expect } from '@playwright/test';

const require = createRequire(import.meta.url);
// Injected with `evaluate` rather than a <script> tag: the DevTools protocol is
// not held back by the page's Content-Security-Policy.
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const FAILING = new Set(['serious', 'critical']);
/** The lesser findings already printed (each once per run, not per state). */
const noted = new Set();

/**
 * Violations that need a change outside the style sheet, each with the rule,
 * the element (its axe selector, as a string or a RegExp) and why: only these
 * are let through, so anything new still fails. Empty: no serious or critical
 * finding needs one. (Below that, axe notes heading-order, moderate: the
 * history's <h3> follows the page's <h1>; the fix is <h2> in
 * web/src/components/task_history.rs, the style sheet already styles both.)
 * @type {{ id: string, target: string | RegExp, why: string }[]}
 */
export const KNOWN_VIOLATIONS = [];

const isKnown = (id, target) => KNOWN_VIOLATIONS.some((known) => known.id === id
  && (typeof known.target === 'string' ? known.target === target : known.target.test(target)));

/** One line per failing element: its selector and what axe says to fix. */
function describe(violations) {
  return violations.map((v) => [
    `- ${v.id} (${v.impact}): ${v.help}`,
    `  ${v.helpUrl}`,
    ...v.nodes.map((node) => `    ${node.target.join(' ')}\n      ${node.failureSummary.replaceAll('\n', '\n      ')}`),
  ].join('\n')).join('\n');
}

/**
 * Scans `page` (the whole document, with the rules axe runs by default: WCAG A
 * and AA, and best practices) and fails on serious or critical findings.
 * `state` names what is on screen, for the message.
 */
export async function expectAccessible(page, state) {
  // Let transitions and pending renders settle: axe reads computed colours.
  await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axeSource);
  const results = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));

  const failing = [];
  const allowed = [];
  for (const violation of results.violations.filter((v) => FAILING.has(v.impact))) {
    const nodes = violation.nodes.filter((node) => !isKnown(violation.id, node.target.join(' ')));
    if (nodes.length) failing.push({ ...violation, nodes });
    if (nodes.length < violation.nodes.length) allowed.push(violation.id);
  }
  expect(results.passes.length, 'axe ran its rules').toBeGreaterThan(0);
  const lesser = results.violations.filter((v) => !FAILING.has(v.impact) && !noted.has(v.id));
  lesser.forEach((v) => noted.add(v.id));
  if (lesser.length) console.log(`axe, ${state}: not failing the test (moderate or minor):\n${describe(lesser)}`);
  if (allowed.length) console.log(`axe, ${state}: known violations let through: ${allowed.join(', ')}`);
  const faint = (await placeholderContrasts(page)).filter((p) => p.ratio < 4.5);
  expect.soft(faint, `placeholders under 4.5:1 (${state}), which axe does not check`).toEqual([]);
  // Soft: the test goes on to scan every state, and fails at its end.
  expect.soft(failing.length, `axe found serious or critical violations (${state}):\n${describe(failing)}`).toBe(0);
}

/**
 * The contrast of every visible placeholder with the background it is drawn
 * on (the first opaque one up the tree), as WCAG computes it.
 * @returns {Promise<{ field: string, color: string, background: string, ratio: number }[]>}
 */
export function placeholderContrasts(page) {
  return page.evaluate(() => {
    const rgba = (css) => {
      const [r, g, b, a = 1] = css.match(/[\d.]+/g).map(Number);
      return { r, g, b, a };
    };
    const luminance = ({ r, g, b }) => {
      const lin = (c) => ((c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
      return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
    };
    const over = (fg, bg) => ({
      r: fg.r * fg.a + bg.r * (1 - fg.a), g: fg.g * fg.a + bg.g * (1 - fg.a), b: fg.b * fg.a + bg.b * (1 - fg.a), a: 1,
    });
    const background = (el) => {
      for (; el; el = el.parentElement) {
        const color = rgba(getComputedStyle(el).backgroundColor);
        if (color.a > 0) return color.a === 1 ? color : over(color, background(el.parentElement));
      }
      return { r: 255, g: 255, b: 255, a: 1 };
    };
    return [...document.querySelectorAll('input[placeholder], textarea[placeholder]')]
      .filter((el) => el.checkVisibility())
      .map((el) => {
        const bg = background(el);
        const fg = over(rgba(getComputedStyle(el, '::placeholder').color), bg);
        const [light, dark] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
        const field = el.id ? `#${el.id}` : el.getAttribute('aria-label') ?? el.className;
        return {
          field, color: getComputedStyle(el, '::placeholder').color, background: getComputedStyle(el).backgroundColor,
          ratio: Math.round(((light + 0.05) / (dark + 0.05)) * 100) / 100,
        };
      });
  });
}
