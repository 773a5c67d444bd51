import SignInView from './sign-in-view.tsx';
import { defineRoute } from '../../app/route.ts';

export const routes = [
  defineRoute({ id: 'sign-in', path: '/sign-in', title: 'Sign in', public: true, component: SignInView }),
];
