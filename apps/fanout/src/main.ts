// First, before anything loads http, express, Nest, kafkajs or pg: the instrumentations patch
// those modules only when they are required after the SDK has started.
import './telemetry';
import { runPipelineApp } from '@asana-stream/runtime';
import { FANOUT_APP } from './fanout.module';

void runPipelineApp(FANOUT_APP, { env: process.env, argv: process.argv });
