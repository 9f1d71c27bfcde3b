// A small code editor with no library: a <textarea> (which does the editing, undo, selection,
// IME, accessibility) laid exactly over a <pre> that shows the same text highlighted, with line
// numbers beside. The highlighter is a lightweight tokenizer for JavaScript and JSON (comments,
// strings, numbers, keywords, literals, calls, JSON keys): good enough to read code, not a parser.
// Highlighted text is built as text nodes (never HTML), so code cannot inject markup.
import { h } from './dom.js';

const KEYWORDS = new Set(
  'await async break case catch class const continue debugger default delete do else export extends finally for function if import in instanceof let new of return static super switch throw try typeof var void while with yield'.split(' '),
);
const LITERALS = new Set(['true', 'false', 'null', 'undefined', 'NaN', 'Infinity', 'this']);
const GLOBALS = new Set(['addHandler', 'console', 'process', 'JSON', 'Object', 'Array', 'Math', 'Date', 'String', 'Number', 'Boolean', 'RegExp', 'Error', 'TypeError', 'Promise', 'Map', 'Set', 'parseInt', 'parseFloat', 'isNaN', 'encodeURIComponent', 'decodeURIComponent', 'btoa', 'atob']);
// After these tokens a `/` starts a regular expression, not a division.
const REGEX_AFTER = new Set(['(', ',', '=', ':', '[', '!', '&', '|', '?', '{', '}', ';', '=>', '&&', '||', '??', '+', '-', '*', '%', '<', '>', '~', '^', '==', '===', '!=', '!==', '<=', '>=']);
const REGEX_AFTER_WORD = new Set(['return', 'typeof', 'case', 'in', 'of', 'delete', 'void', 'throw', 'new', 'yield', 'await', 'else', 'do']);

const RULES = [
  ['ws', /\s+/y],
  ['c', /\/\/[^\n]*/y],
  ['c', /\/\*[\s\S]*?(?:\*\/|$)/y],
  ['s', /"(?:[^"\\\n]|\\.)*"?/y],
  ['s', /'(?:[^'\\\n]|\\.)*'?/y],
  ['s', /`(?:[^`\\]|\\[\s\S])*`?/y],
  ['n', /(?:0[xX][\da-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?)n?/y],
  ['id', /[A-Za-z_$][\w$]*/y],
  ['r', /\/(?![*/])(?:[^/\\\n[]|\\.|\[(?:[^\]\\\n]|\\.)*\])+\/[a-z]*/y],
  ['o', /=>|\.\.\.|[-+*/%=&|^!<>?:~]+|[{}()[\];,.]/y],
  ['x', /[\s\S]/y],
];

const AFTER = /\s*(\(|:)?/y;

/** Tokens of `code`: [[class or '', text], …] (adjacent plain text merged). */
export function tokenize(code, lang = 'js') {
  const out = [];
  let i = 0;
  let prev = null; // the last significant token: [kind, text]
  const push = (cls, text) => {
    const last = out[out.length - 1];
    if (last && last[0] === cls && cls === '') last[1] += text;
    else out.push([cls, text]);
  };
  while (i < code.length) {
    let kind = null;
    let text = '';
    for (const [k, re] of RULES) {
      if (k === 'r') {
        const regexOk = !prev || (prev[0] === 'o' && REGEX_AFTER.has(prev[1])) || (prev[0] === 'id' && REGEX_AFTER_WORD.has(prev[1]));
        if (!regexOk || lang === 'json') continue;
      }
      re.lastIndex = i;
      const m = re.exec(code);
      if (m && m[0]) {
        kind = k;
        text = m[0];
        break;
      }
    }
    i += text.length;
    if (kind === 'ws') {
      push('', text);
      continue;
    }
    let cls = kind;
    if (kind === 'id') {
      AFTER.lastIndex = i;
      const after = AFTER.exec(code)[1];
      if (prev && prev[0] === 'o' && (prev[1] === '.' || prev[1] === '?.')) cls = after === '(' ? 'f' : 'p';
      else if (KEYWORDS.has(text)) cls = 'kw';
      else if (LITERALS.has(text)) cls = 'l';
      else if (GLOBALS.has(text)) cls = 'g';
      else if (after === '(') cls = 'f';
      else cls = '';
    } else if (kind === 's' && text[0] !== '`') {
      // A string followed by ':' is an object key (JSON keys, quoted JS keys)… unless in a ternary.
      if (/^\s*:/.test(code.slice(i, i + 40)) && (!prev || prev[1] === '{' || prev[1] === ',')) cls = 'k';
    } else if (kind === 'x') {
      cls = '';
    }
    push(cls, text);
    if (kind !== 'c') prev = [kind, text];
  }
  return out;
}

/** Fill `el` with the highlighted `code`. */
export function highlightInto(el, code, lang) {
  const frag = document.createDocumentFragment();
  // Very large code is shown plain: highlighting must never make typing slow.
  const tokens = code.length > 200_000 ? [['', code]] : tokenize(code, lang);
  for (const [cls, text] of tokens) {
    if (!cls) frag.append(document.createTextNode(text));
    else {
      const s = document.createElement('span');
      s.className = 'tk-' + cls;
      s.textContent = text;
      frag.append(s);
    }
  }
  // A trailing newline needs a character after it to take up a line in the <pre>.
  frag.append(document.createTextNode('\n'));
  el.replaceChildren(frag);
}

/**
 * The editor. Options: value, lang ('js' | 'json'), label (accessible name), testid,
 * onchange(value), onsave(), onrun() (Ctrl/⌘+S and Ctrl/⌘+Enter), minRows/maxRows (its height
 * follows the code between the two). Tab indents (Esc then Tab
 * leaves the editor), Enter keeps the indentation.
 */
export function codeEditor({ value = '', lang = 'js', label = 'Code', testid, onchange, onsave, onrun, cls, minRows = 10, maxRows = 28 } = {}) {
  const code = h('code');
  const hl = h('pre.code-hl', { 'aria-hidden': 'true' }, code);
  const numbers = h('pre');
  const gutter = h('div.code-gutter', { 'aria-hidden': 'true' }, numbers);
  const band = h('div.code-band', { 'aria-hidden': 'true' });
  const ta = h('textarea.code-input', {
    value,
    wrap: 'off',
    spellcheck: 'false',
    autocapitalize: 'off',
    autocomplete: 'off',
    'aria-label': label,
    'data-testid': testid,
  });
  ta.setAttribute('autocorrect', 'off');
  const el = h('div.code-editor', { class: cls, data: { lang } }, gutter, h('div.code-area', band, hl, ta));
  let lines = 0;
  let trapTab = true;

  function draw() {
    highlightInto(code, ta.value, lang);
    const n = ta.value.split('\n').length;
    if (n !== lines) {
      lines = n;
      numbers.textContent = Array.from({ length: n }, (_, i) => i + 1).join('\n') + '\n';
      el.style.setProperty('--gutter-ch', String(Math.max(2, String(n).length)));
      // Grow with the code between minRows and maxRows (a manual resize, inline, wins).
      el.style.setProperty('--rows', String(Math.min(maxRows, Math.max(minRows, n + 2))));
    }
    sync();
  }
  function sync() {
    hl.scrollTop = ta.scrollTop;
    hl.scrollLeft = ta.scrollLeft;
    gutter.scrollTop = ta.scrollTop;
    const line = ta.value.slice(0, ta.selectionStart).split('\n').length - 1;
    el.style.setProperty('--line', String(line));
    el.style.setProperty('--scroll', `${ta.scrollTop}px`);
  }
  /** Replace the selection with `text`, keeping the browser's undo history when possible. */
  function insert(text) {
    ta.focus();
    if (!document.execCommand('insertText', false, text)) {
      ta.setRangeText(text, ta.selectionStart, ta.selectionEnd, 'end');
      ta.dispatchEvent(new Event('input', { bubbles: true }));
    }
  }

  ta.addEventListener('input', () => {
    trapTab = true;
    draw();
    if (onchange) onchange(ta.value);
  });
  ta.addEventListener('scroll', sync);
  for (const ev of ['keyup', 'click', 'focus', 'select']) ta.addEventListener(ev, sync);
  ta.addEventListener('keydown', (e) => {
    const mod = e.ctrlKey || e.metaKey;
    if (mod && (e.key === 's' || e.key === 'S') && onsave) {
      e.preventDefault();
      onsave();
      return;
    }
    if (mod && e.key === 'Enter' && onrun) {
      e.preventDefault();
      onrun();
      return;
    }
    if (e.key === 'Escape') {
      trapTab = false;
      return;
    }
    if (e.key === 'Tab' && trapTab && !mod && !e.altKey) {
      e.preventDefault();
      const { selectionStart: s, selectionEnd: end, value: v } = ta;
      const lineStart = v.lastIndexOf('\n', s - 1) + 1;
      if (s === end && !e.shiftKey) return insert('  ');
      // Indent or outdent every selected line.
      const block = v.slice(lineStart, end);
      const changed = e.shiftKey ? block.replace(/^ {1,2}/gm, '') : block.replace(/^/gm, '  ');
      ta.setSelectionRange(lineStart, end);
      insert(changed);
      ta.setSelectionRange(lineStart, lineStart + changed.length);
      return;
    }
    if (e.key === 'Enter' && !mod && !e.shiftKey && !e.altKey) {
      const { selectionStart: s, value: v } = ta;
      const lineStart = v.lastIndexOf('\n', s - 1) + 1;
      const indent = v.slice(lineStart).match(/^[ \t]*/)[0].slice(0, s - lineStart);
      const before = v.slice(lineStart, s).trimEnd();
      const extra = /[{[(]$/.test(before) ? '  ' : '';
      e.preventDefault();
      insert('\n' + indent + extra);
    }
  });

  draw();
  return {
    el,
    textarea: ta,
    get value() {
      return ta.value;
    },
    set value(v) {
      ta.value = v;
      draw();
    },
    focus: () => ta.focus(),
  };
}
