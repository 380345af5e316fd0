// Built-in datasources. Named exports only.
export { createSqlDataSource } from './sql-datasource.js';
export type { SqlDataSourceOptions } from './sql-datasource.js';
