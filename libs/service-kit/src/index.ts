import 'reflect-metadata';
export * from './config';
export * from './logger';
export * from './grpc-server';
export * from './http-server';
export * from './lifecycle';
export * from './container';
export { inject, injectable, singleton } from 'tsyringe';
export { MESSAGE_NESTING_LIMIT, STRUCT_NESTING_LIMIT } from './request-check';
