import { Link } from 'react-router';
import { Page } from '../ui';

export function NotFoundPage() {
  return (
    <main id="main" className="narrow">
      <Page title="Page not found">
        <p>There is no page at this address.</p>
        <Link to="/">Go to the app</Link>
      </Page>
    </main>
  );
}
