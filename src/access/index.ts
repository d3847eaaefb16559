export { authorize, LOCAL_ADMIN, ACTIONS, type Action, type Principal, type Resource } from './authorize.js';
