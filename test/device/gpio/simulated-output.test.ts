import { SimulatedOutput } from '../../../device/gpio/simulated-output.js';
import { digitalOutputContract } from './output.contract.js';

digitalOutputContract('simulated', (name, activeLow, onTransition) => new SimulatedOutput(name, activeLow, onTransition));
