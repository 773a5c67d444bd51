import PanelBoardView from './panel-board-view.tsx';
import { defineRoute } from '../../app/route.ts';

// No `roles`: GET /panels answers any signed-in caller; the actions are the domain's to refuse.
export const routes = [
  defineRoute({ id: 'panels', path: '/panels', title: 'Panel board', nav: { label: 'Panels', order: 47 }, component: PanelBoardView }),
];
