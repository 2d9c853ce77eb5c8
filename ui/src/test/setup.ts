import { cleanup } from '@testing-library/react';
import { afterEach } from 'vitest';
import { setCsrfToken, setUnauthorizedHandler } from '../api';

afterEach(() => {
  cleanup();
  setCsrfToken(null);
  setUnauthorizedHandler(null);
  window.history.replaceState(null, '', '/');
});

// jsdom does not implement scrolling; the router scrolls to the top on navigation.
window.scrollTo = () => undefined;
