import { Link } from '../components/Link';
import { paths } from '../lib/router';
import { useTitle } from '../lib/title';

export function NotFound() {
  useTitle('Page not found');
  return (
    <section class="stack">
      <h1 tabIndex={-1}>Page not found</h1>
      <p>There is nothing at this address.</p>
      <p>
        <Link href={paths.catalog()}>Go to the catalog</Link> or <Link href={paths.services()}>see your services</Link>.
      </p>
    </section>
  );
}
