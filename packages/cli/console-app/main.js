// The audit console's browser app, bundled by scripts/build-console.mjs (esbuild) with uPlot
// and the stylesheets into dist/console-app/ and served from /assets: one script, no inline
// script, nothing from another origin. Each page carries the element its view starts from.
import 'uplot/dist/uPlot.min.css';
import './console.css';
import { startDashboard } from './dashboards.js';
import { startIndexStatus } from './index-status.js';
import { startWaterfall } from './waterfall.js';

const dashboard = document.getElementById('dashboard');
if (dashboard) startDashboard(dashboard);
const waterfall = document.getElementById('waterfall');
if (waterfall) startWaterfall(waterfall);
const status = document.getElementById('index-status');
if (status) startIndexStatus(status);
