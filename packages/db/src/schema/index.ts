export * from './enums.js';
export * from './mail.js';
export * from './organizations.js';
export * from './users.js';
