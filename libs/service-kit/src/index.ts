import 'reflect-metadata';
export * from './config';
export * from './logger';
export * from './grpc-server';
export * from './http-server';
export * from './lifecycle';
export * from './container';
export { inject, injectable, singleton } from 'tsyringe';
