import { iconOf } from '../lib/format';

/** A catalog icon: emoji as text, SVG and data: URIs as an image (which cannot run script or fetch anything). */
export function TemplateIcon({ icon, size = 'md' }: { icon?: string; size?: 'md' | 'lg' }) {
  const i = iconOf(icon);
  const cls = `ticon ticon--${size}`;
  if (i.kind === 'text') return <span class={cls} aria-hidden="true">{i.text}</span>;
  if (i.kind === 'image') return <img class={cls} src={i.src} alt="" />;
  return <span class={cls} aria-hidden="true">▢</span>;
}
