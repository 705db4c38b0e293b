from glob import glob

from setuptools import find_packages, setup

package_name = 'casadi_mpc'

setup(
    name=package_name,
    version='0.1.0',
    package_dir={'': 'src'},
    packages=find_packages('src'),
    package_data={package_name: ['urdf/*.urdf', 'core/solvers/*.c', 'core/solvers/*.h']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', glob('launch/*.launch.py')),
        ('share/' + package_name + '/config', glob('config/*.yaml')),
        ('share/' + package_name + '/config/tuning', glob('config/tuning/*.yaml')),
        ('share/' + package_name + '/urdf', glob('src/casadi_mpc/urdf/*.urdf')),
        ('share/' + package_name + '/examples/models', glob('examples/models/*.py')),
    ],
    # Python dependencies are pinned in requirements.txt (pip) and package.xml (rosdep).
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='casadi_mpc developers',
    maintainer_email='casadi-mpc@example.org',
    description='Model predictive control and optimization nodes for ROS 2, built on CasADi.',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={
        'console_scripts': [
            'casadi-mpc = casadi_mpc.cli:main',
            'mpc_node = casadi_mpc.ros.mpc_node:main',
            'sim_node = casadi_mpc.ros.sim_node:main',
            'estimator_node = casadi_mpc.ros.estimator_node:main',
            'safety_filter_node = casadi_mpc.ros.safety_filter_node:main',
            'recorder = casadi_mpc.tools.record:main',
        ],
    },
)
