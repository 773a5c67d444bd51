import AlarmsView from './alarms-view.tsx';
import { defineRoute } from '../../app/route.ts';

export const routes = [
  defineRoute({ id: 'alarms', path: '/alarms', title: 'Alarms', nav: { label: 'Alarms', order: 30 }, component: AlarmsView }),
];
