"""See inside a network: pictures and animations of what it computes and how it learns.

Needs the optional extra ``pip install 'glassnet[viz]'`` (matplotlib and Pillow);
``import glassnet`` itself never imports matplotlib, and this package imports it
only when a function is called.

Every ``plot_*`` function returns a :class:`matplotlib.figure.Figure` drawn off
screen (no pyplot, no window, your backend untouched): Jupyter shows it when it is
the cell's last value, and ``fig.savefig('name.png')`` writes it.

==================================  ==================================================
function                            shows
==================================  ==================================================
plot_decision_boundary              the predicted probability / class over the plane
animate_training, TrainingAnimation the boundary and the learning curves, epoch by epoch
plot_history                        loss and metrics per epoch, train and validation
plot_gradient_descent_1d            x := x - α f'(x) with α too small, good, too large
animate_gradient_descent_1d         the same, one step per frame
plot_loss_surface, ParameterPath    the loss over two weights and the optimizer's path
plot_network                        neurons and weights (width ∝ |w|, colour = sign)
plot_activations                    each activation g(z) and its derivative g'(z)
plot_neuron_maps                    each neuron's activation over the input plane
plot_first_layer_weights            first-layer weights as images (28 x 28 for MNIST)
plot_gradient_norms                 per-layer gradient and weight norms per epoch
report.write_demo_plots             all of the above for ``glassnet demo --plots DIR``
==================================  ==================================================
"""

from glassnet.viz.activations import plot_activations
from glassnet.viz.animation import TrainingAnimation, animate_training
from glassnet.viz.boundary import plot_decision_boundary
from glassnet.viz.gradient_descent import (
    animate_gradient_descent_1d,
    gradient_descent_path,
    plot_gradient_descent_1d,
)
from glassnet.viz.gradient_norms import plot_gradient_norms
from glassnet.viz.history import plot_history
from glassnet.viz.loss_surface import ParameterPath, loss_surface, plot_loss_surface
from glassnet.viz.network import plot_network
from glassnet.viz.neurons import plot_neuron_maps
from glassnet.viz.report import write_demo_plots
from glassnet.viz.weights import plot_first_layer_weights

__all__ = [
    "ParameterPath",
    "TrainingAnimation",
    "animate_gradient_descent_1d",
    "animate_training",
    "gradient_descent_path",
    "loss_surface",
    "plot_activations",
    "plot_decision_boundary",
    "plot_first_layer_weights",
    "plot_gradient_descent_1d",
    "plot_gradient_norms",
    "plot_history",
    "plot_loss_surface",
    "plot_network",
    "plot_neuron_maps",
    "write_demo_plots",
]
