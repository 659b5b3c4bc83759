import type { ComponentChildren } from 'preact';
import { isPlainClick, navigate } from '../lib/router';

interface Props {
  href: string;
  class?: string;
  children: ComponentChildren;
  'aria-current'?: 'page' | undefined;
  'aria-label'?: string;
}

/** Link is an ordinary <a> (keyboard, middle-click, copy link all work) that navigates in-app on a plain click. */
export function Link(props: Props) {
  const { href, children, ...rest } = props;
  return (
    <a
      href={href}
      {...rest}
      onClick={(e) => {
        if (!isPlainClick(e)) return;
        e.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}
