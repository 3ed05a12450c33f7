// A tiny DOM helper: h('button', {class: 'x', onclick: fn}, 'text').

type Attrs = Record<string, unknown> | null | undefined;
export type Child = Node | string | number | false | null | undefined | Child[];

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v as EventListener);
    else if (k === 'value' && 'value' in el) (el as any).value = v;
    else if (k === 'checked' || k === 'selected' || k === 'disabled') (el as any)[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/**
 * Replaces the children of `el`, keeping the keyboard focus (and the caret)
 * on the element with the same `data-focus` key if it had it.
 */
export function replace(el: Element, ...children: Child[]): void {
  const active = document.activeElement as HTMLElement | null;
  const key = active && el.contains(active) ? active.dataset.focus : undefined;
  const input = active as HTMLInputElement | null;
  const sel = key && input && typeof input.selectionStart === 'number' ? [input.selectionStart, input.selectionEnd] : null;
  const value = key && input && 'value' in input ? input.value : null;
  el.replaceChildren();
  append(el, children);
  if (key) {
    const again = el.querySelector<HTMLElement>(`[data-focus="${CSS.escape(key)}"]`);
    if (again) {
      if (value !== null && 'value' in again && again.tagName !== 'SELECT') (again as HTMLInputElement).value = value;
      again.focus();
      if (sel) {
        try {
          (again as HTMLInputElement).setSelectionRange(sel[0], sel[1]);
        } catch {
          /* not a text field */
        }
      }
    }
  }
}

export function time(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function labelled(id: string, label: string, control: HTMLElement, visuallyHidden = false): HTMLElement {
  control.id = id;
  return h('div', { class: 'field' }, h('label', { for: id, class: visuallyHidden ? 'sr-only' : undefined }, label), control);
}
