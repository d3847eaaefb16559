// Types for mljs' ml-logistic-regression (it ships none): what Capstan uses of it.
declare module 'ml-logistic-regression' {
  import type { Matrix } from 'ml-matrix';
  interface TwoClassModel {
    weights: Matrix;
  }
  export default class LogisticRegression {
    constructor(options?: { numSteps?: number; learningRate?: number });
    classifiers: TwoClassModel[];
    numberClasses: number;
    train(x: Matrix, y: Matrix): void;
    predict(x: Matrix): number[];
  }
}
