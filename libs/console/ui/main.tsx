/**
 * The console's entry point: its stylesheets (bundled into app.css) and the app, rendered into
 * the page's one element. index.html loads this bundle from /console/assets/ (no inline script).
 */
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { render } from 'preact';
import { App } from './app';

const root = document.getElementById('app');
if (root) render(<App />, root);
