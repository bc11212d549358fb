import { InlineExecutor } from '../../../src/pipeline/executors/inline.js';
import { runExecutorCases } from './executor.cases.js';

runExecutorCases({
  name: 'inline',
  create: () => new InlineExecutor(),
  skip: {
    'should run tasks on several threads at once':
      'inline runs one task at a time on the calling thread',
  },
});
